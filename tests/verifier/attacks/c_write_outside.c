// expect: wrong (needs: filesystem)
// The test checks the host side: none of these may appear there.
#include <stdio.h>
int main(void) {
    const char *paths[] = {"/tmp/reasoner-attack-pwned", "/var/tmp/reasoner-attack-pwned",
                           "/usr/reasoner-attack-pwned", "/reasoner-attack-pwned",
                           "/dev/shm/reasoner-attack-pwned", "../reasoner-attack-pwned"};
    for (unsigned i = 0; i < sizeof paths / sizeof *paths; i++) {
        FILE *f = fopen(paths[i], "w");
        if (f) fputs("pwned", f), fclose(f);
    }
    puts("done");
    return 0;
}
