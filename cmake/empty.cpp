// Placeholder translation unit for a module whose code is all in headers.
