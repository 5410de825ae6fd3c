package filejournal_test

const envLockHelper = "HANDRAIL_FILEJOURNAL_LOCK_HELPER"

func lockHelper() int { return 0 }
