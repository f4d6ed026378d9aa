#!/bin/sh
# ipmi_sim's chassis_control program: "DIR get power boot" prints "power:0|1" and
# "boot:default|pxe|…"; "DIR set power 0|1 boot pxe …" writes them.
dir=$1 op=$2
shift 2
case $op in
get)
  for what in "$@"; do
    case $what in
      power) echo "power:$(cat "$dir/power")" ;;
      boot) echo "boot:$(cat "$dir/boot")" ;;
    esac
  done ;;
set)
  while [ $# -ge 2 ]; do
    case $1 in
      power) echo "$2" > "$dir/power" ;;
      boot) echo "$2" > "$dir/boot" ;;
    esac
    shift 2
  done ;;
esac
