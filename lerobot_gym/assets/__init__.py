"""Robot models (MJCF twins), one folder per robot, in the MuJoCo Menagerie layout."""
