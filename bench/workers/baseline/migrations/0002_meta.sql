-- Written by `cuesource worker build`: events record their meta.
ALTER TABLE events ADD COLUMN meta TEXT;
