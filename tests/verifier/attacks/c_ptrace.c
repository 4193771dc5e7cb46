// expect: denied
#include <stdio.h>
#include <sys/ptrace.h>
#include <unistd.h>
int main(void) {
    if (ptrace(PTRACE_ATTACH, getppid(), 0, 0) == 0) puts("ESCAPED");
    return 1;
}
