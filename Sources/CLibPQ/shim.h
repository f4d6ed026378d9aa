#ifndef RACKPLANE_CLIBPQ_SHIM_H
#define RACKPLANE_CLIBPQ_SHIM_H
#include <sys/socket.h>
#include <sys/select.h>
#include <libpq-fe.h>
#endif
