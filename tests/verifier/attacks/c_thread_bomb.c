// expect: runtime_error
#include <pthread.h>
#include <unistd.h>
static void *sleeper(void *arg) { sleep(100); return arg; }
int main(void) {
    for (;;) {
        pthread_t t;
        if (pthread_create(&t, NULL, sleeper, NULL) != 0) return 1;
    }
}
