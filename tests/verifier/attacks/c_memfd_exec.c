// expect: denied
// A binary that was never on disk: copy /bin/true into a memfd and run it
// (execveat on the memfd, then fexecve). Only the exec that started us runs.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    int src = open("/bin/true", O_RDONLY);
    int mfd = memfd_create("x", 0);
    if (src < 0 || mfd < 0) return 1;
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(src, buf, sizeof buf)) > 0)
        if (write(mfd, buf, (size_t)n) != n) return 1;
    char *argv[] = {"true", NULL}, *envp[] = {NULL};
    syscall(SYS_execveat, mfd, "", argv, envp, AT_EMPTY_PATH);
    fexecve(mfd, argv, envp);
    puts("ESCAPED");
    return 0;
}
