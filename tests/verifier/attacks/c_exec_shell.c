// expect: runtime_error
// A shell runs, but inside the same walls: cat cannot see /etc/shadow.
#include <unistd.h>
int main(void) {
    execl("/bin/sh", "sh", "-c", "cat /etc/shadow && echo ESCAPED", (char *)0);
    return 2;
}
