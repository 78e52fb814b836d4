/* Placeholder: big-integer helpers are being written. */
#include "parkit/internal.h"
