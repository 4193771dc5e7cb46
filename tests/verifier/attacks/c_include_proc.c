// expect: compile_error (needs: filesystem)
#include "/proc/self/environ"
int main(void) { return 0; }
