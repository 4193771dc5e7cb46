// expect: compile_error
// An endless include: the compiler's limits stop it.
#include "/dev/zero"
int main(void) { return 0; }
