// expect: runtime_error
// A link made inside the work dir still resolves inside the sandbox's view.
#include <stdio.h>
#include <unistd.h>
int main(void) {
    symlink("/etc/shadow", "s");
    FILE *f = fopen("s", "r");
    if (!f) return 1;
    puts("ESCAPED");
    return 0;
}
