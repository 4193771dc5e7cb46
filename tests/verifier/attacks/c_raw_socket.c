// expect: denied
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <stdio.h>
#include <sys/socket.h>
int main(void) {
    if (socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)) >= 0) puts("ESCAPED");
    return 1;
}
