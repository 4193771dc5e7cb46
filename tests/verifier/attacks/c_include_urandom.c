// expect: compile_error
#include "/dev/urandom"
int main(void) { return 0; }
