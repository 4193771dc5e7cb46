// expect: denied
// Many processes, each under its own RLIMIT_AS, would together pass the
// job's memory cap: fork is denied by default (threads only).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    for (int i = 0; i < 8; i++)
        if (fork() == 0) {
            char *p = malloc(100 << 20);
            if (p) memset(p, 1, 100 << 20);
            _exit(0);
        }
    puts("ESCAPED");
    return 0;
}
