/* Placeholder: the factorial kernel is being written. */
#include "parkit/internal.h"
