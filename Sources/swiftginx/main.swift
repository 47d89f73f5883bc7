print("swiftginx")
