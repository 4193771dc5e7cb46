// expect: runtime_error
// RLIMIT_FSIZE sends SIGXFSZ (or /work fills up first).
#include <stdio.h>
#include <string.h>
int main(void) {
    static char chunk[1 << 20];
    memset(chunk, 'z', sizeof chunk);
    FILE *f = fopen("fill", "wb");
    if (!f) return 1;
    for (;;)
        if (fwrite(chunk, 1, sizeof chunk, f) != sizeof chunk || fflush(f) != 0) return 1;
}
