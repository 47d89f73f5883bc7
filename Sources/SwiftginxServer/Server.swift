// Server runtime placeholder
