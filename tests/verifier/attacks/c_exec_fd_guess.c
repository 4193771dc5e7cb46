// expect: wrong
// The filter lets one descriptor number through execveat: try to own it
// (dup2 to it, raise RLIMIT_NOFILE first), then exec a shell from it.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    struct rlimit rl = {1 << 20, 1 << 20};
    setrlimit(RLIMIT_NOFILE, &rl);
    int fd = open("/bin/sh", O_PATH);
    char *argv[] = {"sh", "-c", "echo ESCAPED", NULL}, *envp[] = {NULL};
    for (int target = 64; target < 4096; target++) {
        if (dup2(fd, target) != target && fcntl(fd, F_DUPFD, target) != target) continue;
        syscall(SYS_execveat, target, "", argv, envp, AT_EMPTY_PATH);
    }
    syscall(SYS_execveat, 1000, "", argv, envp, AT_EMPTY_PATH);  // nothing there
    puts("no descriptor");
    return 0;
}
