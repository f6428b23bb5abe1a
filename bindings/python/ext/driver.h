/* shoal.Driver: an embedded media driver (shoal_driver_start). */
#ifndef SHOAL_PY_DRIVER_H
#define SHOAL_PY_DRIVER_H

#include "handle.h"

extern HandleType DriverType;

#endif
