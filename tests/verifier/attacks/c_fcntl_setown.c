// expect: denied
// Make the kernel signal another process on I/O (F_SETOWN to the supervisor).
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
    int p[2];
    if (pipe(p) != 0) return 1;
    fcntl(p[0], F_SETOWN, getppid());
    fcntl(p[0], F_SETFL, O_ASYNC);
    puts("ESCAPED");
    return 0;
}
