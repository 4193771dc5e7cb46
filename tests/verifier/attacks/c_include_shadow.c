// expect: compile_error
// A secret pulled in at compile time: the compiler runs in the sandbox too.
#include "/etc/shadow"
int main(void) { return 0; }
