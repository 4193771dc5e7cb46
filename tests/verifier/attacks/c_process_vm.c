// expect: denied
#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>
int main(void) {
    char buf[64];
    struct iovec local = {buf, sizeof buf}, remote = {(void *)0x400000, sizeof buf};
    if (process_vm_readv(getppid(), &local, 1, &remote, 1, 0) > 0) puts("ESCAPED");
    return 1;
}
