/* shoal.Claim: a zero-copy claim from Publication.try_claim. */
#ifndef SHOAL_PY_CLAIM_H
#define SHOAL_PY_CLAIM_H

#include "common.h"

extern PyTypeObject ClaimType;

#endif
