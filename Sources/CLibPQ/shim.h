#ifndef ROSTERSYNC_CLIBPQ_SHIM_H
#define ROSTERSYNC_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
