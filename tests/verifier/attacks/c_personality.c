// expect: denied
#include <stdio.h>
#include <sys/personality.h>
int main(void) {
    if (personality(READ_IMPLIES_EXEC) != -1) puts("ESCAPED");
    return 1;
}
