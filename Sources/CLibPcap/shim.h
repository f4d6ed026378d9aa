#ifndef RACKPLANE_CLIBPCAP_SHIM_H
#define RACKPLANE_CLIBPCAP_SHIM_H
// Same header order rule as CLibURing: sockets before the library.
#include <sys/socket.h>
#include <sys/select.h>
#include <pcap/pcap.h>
#endif
