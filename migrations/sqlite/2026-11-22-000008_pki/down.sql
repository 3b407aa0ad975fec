DROP TABLE certificates;
DROP TABLE access_keys;
DROP TABLE applications;
DROP TABLE certificate_authorities;
