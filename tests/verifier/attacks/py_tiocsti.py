# expect: denied
import fcntl, termios
fcntl.ioctl(0, termios.TIOCSTI, b"x")
print("ESCAPED")
