DROP TABLE evidences;
