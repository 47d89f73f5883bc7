// HTTP placeholder
