// expect: denied
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>
int main(void) {
    int s = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(53)};
    inet_pton(AF_INET6, "2001:4860:4860::8888", &a.sin6_addr);
    if (sendto(s, "leak", 4, 0, (struct sockaddr *)&a, sizeof a) == 4) puts("ESCAPED");
    return 1;
}
