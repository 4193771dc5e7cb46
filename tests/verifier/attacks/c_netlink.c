// expect: denied
#include <linux/netlink.h>
#include <stdio.h>
#include <sys/socket.h>
int main(void) {
    if (socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) >= 0) puts("ESCAPED");
    return 1;
}
