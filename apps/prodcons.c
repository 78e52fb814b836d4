/* Placeholder: the prodcons program is being written. */
#include "app.h"
int main(void) {
    return 1;
}
