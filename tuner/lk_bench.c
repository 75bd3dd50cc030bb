/* lk-bench: placeholder while being written. */
int main(void) { return 0; }
