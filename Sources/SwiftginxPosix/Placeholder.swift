// posix placeholder
