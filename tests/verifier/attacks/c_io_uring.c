// expect: denied
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    char params[120];
    memset(params, 0, sizeof params);
    if (syscall(425, 8, params) >= 0) puts("ESCAPED");  // io_uring_setup
    return 1;
}
