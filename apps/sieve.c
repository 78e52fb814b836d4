/* Placeholder: the sieve program is being written. */
#include "app.h"
int main(void) {
    return 1;
}
