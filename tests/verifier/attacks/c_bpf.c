// expect: denied
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    char attr[128];
    memset(attr, 0, sizeof attr);
    if (syscall(SYS_bpf, 0, attr, sizeof attr) >= 0) puts("ESCAPED");
    return 1;
}
