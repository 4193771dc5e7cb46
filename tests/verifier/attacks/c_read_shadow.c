// expect: runtime_error
#include <stdio.h>
int main(void) {
    FILE *f = fopen("/etc/shadow", "r");
    if (!f) return 1;
    char line[256];
    while (fgets(line, sizeof line, f)) fputs(line, stdout);
    puts("ESCAPED");
    return 0;
}
