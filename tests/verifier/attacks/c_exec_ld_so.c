// expect: denied
// The dynamic loader as the program, the shell as its argument: a second exec.
#include <stdio.h>
#include <unistd.h>
int main(void) {
    char *argv[] = {"ld.so", "/bin/sh", "-c", "echo ESCAPED", NULL}, *envp[] = {NULL};
    execve("/lib64/ld-linux-x86-64.so.2", argv, envp);
    execve("/lib/ld-linux-aarch64.so.1", argv, envp);
    puts("not denied");
    return 0;
}
