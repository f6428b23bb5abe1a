/* shoal.Cnc: monitoring through the C library's shoal_cnc_* API. */
#ifndef SHOAL_PY_CNC_H
#define SHOAL_PY_CNC_H

#include "handle.h"

extern HandleType CncType;

#endif
