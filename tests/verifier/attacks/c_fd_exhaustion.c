// expect: runtime_error
#include <fcntl.h>
int main(void) {
    for (;;)
        if (open("/dev/null", O_RDONLY) < 0) return 1;
}
