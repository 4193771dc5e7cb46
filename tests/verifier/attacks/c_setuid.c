// expect: denied
#include <stdio.h>
#include <unistd.h>
int main(void) {
    if (setuid(0) == 0) puts("ESCAPED");
    return 1;
}
