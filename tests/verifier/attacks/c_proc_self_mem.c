// expect: runtime_error (needs: filesystem)
#include <fcntl.h>
#include <stdio.h>
int main(void) {
    int fd = open("/proc/self/mem", O_RDWR);
    if (fd < 0) return 1;
    puts("ESCAPED");
    return 0;
}
