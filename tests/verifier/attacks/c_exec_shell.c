// expect: denied
// A shell: the one exec that started us was the last. (Once it ran inside the same walls.)
#include <unistd.h>
int main(void) {
    execl("/bin/sh", "sh", "-c", "cat /etc/shadow && echo ESCAPED", (char *)0);
    return 2;
}
