// expect: denied
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    if (syscall(SYS_keyctl, 0, -3, 0) >= 0) puts("ESCAPED");  // KEYCTL_GET_KEYRING_ID
    return 1;
}
