# expect: denied
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"leak", ("8.8.8.8", 53))
print("ESCAPED")
