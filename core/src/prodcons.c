/* Placeholder: the prodcons kernel is being written. */
#include "parkit/internal.h"
