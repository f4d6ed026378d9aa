#!/bin/sh
# An IPMI BMC for the ipmi driver's tests: OpenIPMI's ipmi_sim on 127.0.0.1:PORT with one
# administrator (USER / PASSWORD). Chassis power and the boot device live in files under DIR,
# which ipmi_chassis.sh reads and writes for the simulator.
#   ipmi_peer.sh DIR PORT USER PASSWORD
set -eu
dir=$1 port=$2 user=$3 password=$4
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir/state"
echo 0 > "$dir/power"
echo default > "$dir/boot"
cat > "$dir/lan.conf" <<CONF
name "rackplane-test"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 $port
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "$here/ipmi_chassis.sh $dir"
  user 1 true  ""      "test"      user  10 none md2 md5 straight
  user 2 true  "$user" "$password" admin 10 none md2 md5 straight
CONF
cat > "$dir/bmc.emu" <<EMU
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
mc_enable 0x20
EMU
exec ipmi_sim -c "$dir/lan.conf" -f "$dir/bmc.emu" -s "$dir/state" -n
